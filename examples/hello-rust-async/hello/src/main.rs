use embly::{http::{run_catch_error, Body, Request, ResponseWriter}, prelude::*, Error};
async fn execute(_req: Request<Body>, mut w: ResponseWriter) -> Result<(), Error> {
  w.write_all(b"Hello World")?;
  Ok(())
}
fn main() { run_catch_error(execute); }
