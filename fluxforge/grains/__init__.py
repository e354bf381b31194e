"""Grains: facts about the host a minion runs on."""
