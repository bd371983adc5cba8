//! The song form `prepare` stores (`nsf::form`), printed for MIDI files or
//! POP909 song folders, with a summary over all of them:
//!
//! ```sh
//! target/release/examples/form song.mid …
//! target/release/examples/form --pop909 /work/data/pop909/POP909 --every 16
//! ```
//! POP909 songs 810–909 are held out and skipped.

use std::path::{Path, PathBuf};

use nomad_muse::nsf::form::{FormPart, SongForm};
use nomad_muse::nsf::midi_to_nsf;

fn pop909_songs(root: &Path, every: usize) -> Vec<PathBuf> {
    (1..810)
        .step_by(every.max(1))
        .map(|id| root.join(format!("{id:03}")).join(format!("{id:03}.mid")))
        .filter(|p| p.is_file())
        .collect()
}

fn sections_line(form: &SongForm) -> String {
    form.sections
        .iter()
        .map(|s| format!("{}:{}", s.name(), s.bars))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Mean energy bin per section, e.g. "1.5 2.0 3.8".
fn energy_arc(form: &SongForm) -> String {
    form.sections
        .iter()
        .map(|s| {
            let bars = &form.bars[s.start_bar as usize..(s.start_bar + s.bars) as usize];
            let sum: u32 = bars.iter().map(|b| b.energy as u32).sum();
            format!("{:.1}", sum as f32 / bars.len().max(1) as f32)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Summary {
    songs: usize,
    bars: usize,
    sections: usize,
    repeated_sections: usize,
    bars_repeating: usize,
    fills: usize,
    songs_with_repeat: usize,
    part_bars: [usize; FormPart::COUNT],
}

impl Summary {
    fn add(&mut self, form: &SongForm) {
        self.songs += 1;
        self.bars += form.bars.len();
        self.sections += form.sections.len();
        let repeated = form
            .sections
            .iter()
            .filter(|s| s.repeat_of.is_some())
            .count();
        self.repeated_sections += repeated;
        self.songs_with_repeat += usize::from(repeated > 0);
        self.bars_repeating += form.bars.iter().filter(|b| b.repeat_of.is_some()).count();
        self.fills += form.bars.iter().filter(|b| b.fill).count();
        for p in FormPart::ALL {
            self.part_bars[p as usize] += form
                .bars
                .iter()
                .filter(|b| b.density[p as usize] > 0)
                .count();
        }
    }

    fn print(&self) {
        let per = |x: usize, of: usize| x as f64 / of.max(1) as f64;
        println!(
            "{} songs, {} bars: {:.1} sections a song ({:.1} bars each), {:.3} of sections repeat an earlier one, {:.3} of songs repeat a section, {:.3} of bars repeat an earlier bar, {:.3} of bars are fills",
            self.songs,
            self.bars,
            per(self.sections, self.songs),
            per(self.bars, self.sections),
            per(self.repeated_sections, self.sections),
            per(self.songs_with_repeat, self.songs),
            per(self.bars_repeating, self.bars),
            per(self.fills, self.bars)
        );
        let parts: Vec<String> = FormPart::ALL
            .iter()
            .map(|p| {
                format!(
                    "{} {:.3}",
                    p.name(),
                    per(self.part_bars[*p as usize], self.bars)
                )
            })
            .collect();
        println!("bars each part plays: {}", parts.join(", "));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files = match args.first().map(String::as_str) {
        Some("--pop909") if args.len() >= 2 => {
            let every = args
                .iter()
                .position(|a| a == "--every")
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            pop909_songs(Path::new(&args[1]), every)
        }
        Some(_) => args.iter().map(PathBuf::from).collect(),
        None => {
            eprintln!("usage: form FILE.mid … | form --pop909 DIR [--every N]");
            std::process::exit(2);
        }
    };
    let mut summary = Summary::default();
    for path in files {
        let name = path.display().to_string();
        let form = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| midi_to_nsf(&b, &name).map_err(|e| e.to_string()))
            .map(|nsf| nsf.form);
        match form {
            Ok(Some(form)) => {
                println!("{name}: {} bars", form.bars.len());
                println!("  sections {}", sections_line(&form));
                println!("  energy   {}", energy_arc(&form));
                summary.add(&form);
            }
            Ok(None) => println!("{name}: no form (no bars, or too long)"),
            Err(e) => println!("{name}: {e}"),
        }
    }
    summary.print();
}
