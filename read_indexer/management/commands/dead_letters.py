"""`manage.py dead_letters list|replay|discard [event ids...|--all]`.

Thin: read_indexer.operations.dead_letters does the work. Ids are outbox event ids, as `list` shows them.
"""

import orjson

from read_indexer.errors import OperatorError
from read_indexer.operations import dead_letters
from read_indexer.operations.operator_cli import OperatorCommand


class Command(OperatorCommand):
    help = "List dead-lettered events, replay them into the pipeline, or discard them."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "replay", "discard"])
        parser.add_argument("event_ids", nargs="*", type=int, help="outbox event ids (see list)")
        parser.add_argument("--all", action="store_true", help="every dead letter (replay/discard)")
        parser.add_argument("--limit", type=int, default=None, help="list at most this many")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def operate(self, *, action, event_ids, all, limit, json, **_):
        if action == "list":
            letters = dead_letters.list_dead_letters(limit)
            if json:
                self.stdout.write(orjson.dumps([letter.as_dict() for letter in letters]).decode())
            else:
                self.stdout.write("\n".join(dead_letters.render(letters)))
            return
        if bool(event_ids) == all:
            raise OperatorError(f"Give the event ids to {action}, or --all (not both).")
        done = getattr(dead_letters, action)(None if all else event_ids)
        verb = "Replayed" if action == "replay" else "Discarded"
        if json:
            self.stdout.write(orjson.dumps({action: done}).decode())
        else:
            self.stdout.write(f"{verb} {len(done)} event(s): {', '.join(map(str, done)) or 'none'}.")
