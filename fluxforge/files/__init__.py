"""The file server and the file client: one subsystem.

The server (master side, and ``ff-call --local``) lists, hashes and serves
the files of ``file_roots``; the client (minion side) keeps a hash-checked
cache of them. Both check paths with the same rules.
"""
