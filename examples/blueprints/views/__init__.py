"""The blueprints of the example, one module each."""
