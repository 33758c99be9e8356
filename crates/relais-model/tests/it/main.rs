//! Integration tests of the model crate (tiny configs, CPU).

mod helpers;
mod model_dir;
mod training;
