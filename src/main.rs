//! The `synclings` binary (replaced by the course runner).
fn main() {
    println!("synclings");
}
