//! Tests of the template module as the server uses it: parse, lint, variables, rendering.

mod lint_shape_tests;
mod lint_tests;
mod parse_tests;
mod render_tests;
mod send_tests;
