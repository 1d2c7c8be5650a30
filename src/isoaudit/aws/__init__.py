"""The only code that talks to AWS: one module per service, sessions passed explicitly."""
