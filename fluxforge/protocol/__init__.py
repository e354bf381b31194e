"""The wire protocol between master and minions.

Frames and their shapes, crypto, replay windows, jids, minion ids and the
socket drainer. Shared by the master, the minion and the local client; it
imports nothing of the daemons.
"""
