"""``python -m mixforge`` runs the CLI."""

from mixforge.cli import main_entry

main_entry()
