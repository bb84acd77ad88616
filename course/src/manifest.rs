//! The course manifest (`course/manifest.rs`: the exercises, their hints and
//! what each platform can run), and looking an exercise up by name.

include!("../manifest.rs");

/// The exercise called `name`, or an error listing the names.
pub fn find(name: &str) -> Result<&'static Exercise, String> {
    EXERCISES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = EXERCISES.iter().map(|e| e.name).collect();
        format!(
            "no exercise called {name:?}; the exercises are: {}",
            names.join(", ")
        )
    })
}
