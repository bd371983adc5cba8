#!/usr/bin/env bash
# "Train on your own MIDI folder", worked on POP909's development songs
# 001–809 (README). Fetches nothing: point it at your copy of the dataset's
# POP909 folder (github.com/music-x-lab/POP909-Dataset, MIT licence). Songs
# 810–909 are never read: they are the held-out part.
#
#   scripts/pop909_example.sh ~/POP909-Dataset/POP909 [artifacts_pop909] [train flags…]
#
# Flags after the output folder go to `training train` (e.g. --epochs 1 for a dry run).
# Prints the time of each step and leaves the report card in <out>/report_card.md.
set -euo pipefail
pop909=${1:?usage: scripts/pop909_example.sh <POP909 folder> [out folder]}
out=${2:-artifacts_pop909}
shift $(($# < 2 ? $# : 2))
cd "$(dirname "$0")/.."
songs="$out/midi"
mkdir -p "$songs"
# One file per song: the NNN/NNN.mid arrangement, not its alternative versions.
for n in $(seq -w 1 809); do
    src="$pop909/$n/$n.mid"
    [ -f "$src" ] && ln -sf "$(cd "$(dirname "$src")" && pwd)/$n.mid" "$songs/$n.mid"
done
echo "$(ls "$songs" | wc -l) songs linked into $songs"

cargo build --release --workspace # the same build the test command uses
training=target/release/training
: > "$out/times.tsv"
step() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name: $*"
    "$@"
    printf '%s\t%d s\n' "$name" $((SECONDS - start)) | tee -a "$out/times.tsv"
}
step prepare "$training" prepare --midi_dir "$songs" --prepared_dir "$out/prepared"
step train "$training" train --midi_dir "$songs" --artifacts_dir "$out" "$@"
step eval "$training" eval --midi_dir "$songs" --artifacts_dir "$out"
step export "$training" export --artifacts_dir "$out"
step sketch "$training" sketch --onnx_dir "$out/onnx" --midi_file "$out/sketch.mid" --bars 16
echo "== times (2 cores: see README)"
cat "$out/times.tsv"
echo "report card: $out/report_card.md"
