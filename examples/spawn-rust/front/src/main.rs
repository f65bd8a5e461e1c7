//! front answers HTTP requests with the help of another function: it spawns
//! "back", sends it a message (the `msg` query parameter, or else the
//! request body), closes its side so back reads EOF, and relays back's
//! answer.

use embly::http::{run, Body, Request, ResponseWriter};
use embly::prelude::*;
use embly::Error;

fn relay(mut req: Request<Body>, w: &mut ResponseWriter) -> Result<(), Error> {
    let mut msg = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("msg=")))
        .unwrap_or("")
        .to_string();
    if msg.is_empty() {
        msg = req.body_mut().read_string()?.trim().to_string();
    }
    if msg.is_empty() {
        msg = "hello from front".to_string();
    }

    let mut back = embly::spawn_and_send("back", msg.as_bytes())?;
    let answer = back.read_all()?;

    w.header("Content-Type", "text/plain; charset=utf-8")?;
    w.write_all(&answer)?;
    Ok(())
}

fn main() -> Result<(), Error> {
    run(relay)
}
