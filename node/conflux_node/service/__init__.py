"""The service layer: validate at the edge of the model, build commands, propose them,
and answer reads from the local store."""
