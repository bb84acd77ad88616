//! The "build X" suites run against the library's own X: the production
//! version must pass exactly what the learner's and the solution's pass.

synclings_suites::event_suite!(synclings::Event);
