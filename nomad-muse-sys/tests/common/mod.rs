pub mod ears;
