"""Command-line entry points: ff, ff-key, ff-call, ff-master, ff-minion."""
