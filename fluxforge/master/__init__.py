"""The master: keys, publisher, request server, job cache and event bus."""
