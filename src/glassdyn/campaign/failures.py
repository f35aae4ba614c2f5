"""What failed in a Snakemake run, why, and where its logs are (the ``onerror`` summary).

A stale lock left by a hard-killed run never reaches this summary: Snakemake
raises its LockException while locking the working directory, before any job
and before ``onstart``/``onerror``, and its own message already names
``--unlock`` (README, "Interrupted runs"; tests/test_workflow_dag.py).
"""
from __future__ import annotations

import re

# --------------------------------------------------------------------------- what failed
_LOGFILE_SECTION = re.compile(r"^Logfile [^\n]*:\n={80}\n.*?^={80}$", re.S | re.M)


_ERROR_BLOCK = re.compile(r"^Error in rule (\w+):\n((?:    .*(?:\n|$))*)", re.M)


def failed_jobs(log_text: str) -> list[dict]:
    """Jobs of a Snakemake run log that failed for good (after their retries).

    Each: ``rule``, ``output``, ``attempts`` (failed attempts seen), ``message``
    and ``logs`` (the rule's log, then the SLURM log of the last attempt). The
    contents of failed jobs' logs that Snakemake echoes (``show-failed-logs``)
    are skipped, and a job that failed and then finished on a retry is not listed.
    """
    text = _LOGFILE_SECTION.sub("", log_text)
    jobs: dict[tuple, dict] = {}
    for m in _ERROR_BLOCK.finditer(text):
        fields = {}
        for line in m.group(2).splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and line.startswith("    ") and not line.startswith("     "):
                fields[key] = value
        logs = fields.get("log", "").split(" (check log")[0]
        key = (m.group(1), fields.get("output", ""))
        job = jobs.setdefault(key, {"rule": m.group(1), "output": fields.get("output", ""), "attempts": 0})
        job.update(jobid=fields.get("jobid"), message=fields.get("message"), end=m.end(),
                   logs=[s for s in logs.split(", ") if s])
        job["attempts"] += 1
    out = []
    for job in jobs.values():
        done = re.compile(rf"^Finished jobid: {re.escape(str(job['jobid']))} \(Rule: {job['rule']}\)", re.M)
        if not done.search(text, job.pop("end")):
            out.append(job)
    return out


def _last_error_line(path: str) -> str | None:
    """The last ERROR line of a glassdyn log (its cause), if the file is readable."""
    try:
        lines = [ln.strip() for ln in open(path, errors="replace") if " ERROR " in ln or ln.startswith("Error")]
    except OSError:
        return None
    return lines[-1] if lines else None


def failure_summary(log_text: str) -> str:
    """A few lines naming each job that failed for good, its cause and its logs ("" if none)."""
    jobs = failed_jobs(log_text)
    if not jobs:
        return ""
    lines = [f"glassdyn: {len(jobs)} job(s) failed after their retries; finished outputs are kept, "
             "fix the cause and run the same command again:"]
    for j in jobs:
        lines.append(f"  rule {j['rule']} -> {j['output']} ({j['attempts']} failed attempt(s))")
        if j.get("message") and j["message"] != "None":
            lines.append(f"      {j['message'].split('. ')[0]}")
        cause = _last_error_line(j["logs"][0]) if j["logs"] else None
        if cause:
            lines.append(f"      cause: {cause}")
        for path in j["logs"]:
            lines.append(f"      log: {path}")
    return "\n".join(lines)
