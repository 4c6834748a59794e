"""Would parsedatetime earn its place as a fallback where `dates.py` is silent? (issue 13)

For every English dev case that creates a task with a due date, this reads the due date with
`dates.extract_due` on the whole message; where that finds none, it asks parsedatetime and
counts its answer right or wrong. parsedatetime is not a dependency, so run it with
`.tools/bin/uv run --frozen --with parsedatetime python services/agent/eval/offline/measure_parsedatetime.py`.
"""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import parsedatetime
from todo_agent.offline.dates import extract_due
from todo_agent.offline.grammar import normalize

now = datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/London"))
cal = parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)
silent = right_pdt = wrong_pdt = with_due = ours_right = 0
with open("services/agent/eval/offline/dev.jsonl", encoding="utf-8") as corpus:
    cases = [json.loads(line) for line in corpus]
for c in cases:
    if c["lang"] != "en":
        continue
    created = (
        c["expect"].get("created")
        or (c["expect"].get("until_supported") or {}).get("created")
        or []
    )
    for t in created[:1]:
        if "due" not in t:
            continue
        with_due += 1
        due, _ = extract_due(normalize(c["text"]), now)
        if due is not None:
            ours_right += due.iso() == t["due"]
            continue
        silent += 1
        moment, ctx = cal.parseDT(c["text"], sourceTime=now.replace(tzinfo=None))
        if ctx.hasDate or ctx.hasTime:
            got = moment.strftime("%Y-%m-%dT%H:%M") if ctx.hasTime else moment.date().isoformat()
            if got == t["due"]:
                right_pdt += 1
            else:
                wrong_pdt += 1
print(
    f"adds with a due date: {with_due}; dates.py right on the whole message: {ours_right}; silent: {silent}; parsedatetime on those: right {right_pdt}, wrong {wrong_pdt}"
)
