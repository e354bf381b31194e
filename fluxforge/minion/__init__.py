"""The minion: authentication, publications, the job runner."""
