"""Policies that send text to the TV2TV env (issue 5)."""
