"""Findings (what is wrong now) and events (what started, ended or changed): see model.py."""
