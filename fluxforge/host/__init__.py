"""What execution and state modules share about the host: processes, files, packages."""
