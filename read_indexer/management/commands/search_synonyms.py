"""`manage.py search_synonyms`: list or change the search synonyms of an index (shared/synonyms.py).

    search_synonyms list [--index posts]
    search_synonyms set --index posts --file rules.txt      (the whole set; `-` reads stdin)
    search_synonyms add --index posts "postgres, postgresql" "golang => go"
    search_synonyms remove --index posts "golang => go"
    search_synonyms demo                                    (the demo corpus's starting set)

Every rule is validated before anything is written; one bad rule is an error naming it (exit
status 1) and the stored set is left as it was. A change is one document write, made only if the
set did not change since it was read (a concurrent change is an error: run it again), and applies
to searches within SEARCH_SYNONYMS_TTL_SECONDS, without any rebuild.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from elasticsearch import ConflictError
from elasticsearch import ConnectionError as ESConnectionError

from shared import synonyms
from shared.es_client import get_es_client

DEMO_SETS = Path(__file__).resolve().parents[2] / "operations" / "demo_synonyms"


class Command(BaseCommand):
    help = "List or change the search synonyms of an index (validated; applied without a rebuild)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "set", "add", "remove", "demo"])
        parser.add_argument("rules", nargs="*", help="rules to add or remove, one per argument")
        parser.add_argument("--index", choices=synonyms.SYNONYM_INDEXES)
        parser.add_argument("--file", help="set: a file of rules, one per line (`-`: stdin)")

    def handle(self, *args, action, rules, index, file, **options):
        if action in ("set", "add", "remove") and index is None:
            raise CommandError(f"{action} needs --index ({', '.join(synonyms.SYNONYM_INDEXES)}).")
        if action == "set" and (file is None or rules):
            raise CommandError("set takes the whole set from --file (one rule per line), no rule arguments.")
        if action in ("add", "remove") and not rules:
            raise CommandError(f"{action} needs at least one rule.")
        es = get_es_client()
        try:
            if action == "list":
                for name in (index,) if index else synonyms.SYNONYM_INDEXES:
                    stored = synonyms.load(es, name).rules
                    self.stdout.write(f"{name}: {len(stored)} rule(s)")
                    for rule in stored:
                        self.stdout.write(f"  {rule}")
            elif action == "demo":
                for path in sorted(DEMO_SETS.glob("*.txt")):
                    self._replace(es, path.stem, _parse(path.read_text().splitlines()))
            elif action == "set":
                text = sys.stdin.read() if file == "-" else _read(file)
                self._replace(es, index, _parse(text.splitlines()))
            else:
                self._change(es, index, action, _parse(rules))
        except ESConnectionError:
            raise CommandError("Elasticsearch is unreachable; start it with bin/stack up.") from None
        except ConflictError:
            raise CommandError("The synonyms changed while this ran; nothing was written. Run it again.") from None

    def _replace(self, es, index: str, rules: list[synonyms.Rule]) -> None:
        synonyms.store(es, index, rules, previous=synonyms.load(es, index))
        self.stdout.write(f"{index}: {len(rules)} rule(s) stored")

    def _change(self, es, index: str, action: str, given: list[synonyms.Rule]) -> None:
        previous = synonyms.load(es, index)
        current = _parse(previous.rules)
        texts = {r.text for r in current}
        if action == "add":
            rules = current + [r for r in given if r.text not in texts]
        else:
            missing = [r.text for r in given if r.text not in texts]
            if missing:
                raise CommandError(f"Not in {index}'s synonyms (nothing removed): {'; '.join(missing)}.")
            removed = {r.text for r in given}
            rules = [r for r in current if r.text not in removed]
        _parse(r.text for r in rules)  # the set as a whole within its limits
        synonyms.store(es, index, rules, previous=previous)
        self.stdout.write(f"{index}: {len(rules)} rule(s) stored")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None


def _parse(lines) -> list[synonyms.Rule]:
    try:
        return synonyms.parse_rules(lines)
    except synonyms.InvalidRules as exc:
        raise CommandError("Invalid synonyms, nothing written:\n  " + "\n  ".join(exc.errors)) from None
