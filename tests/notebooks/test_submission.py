"""Submitted files are data: what `manrs_lab.submission` accepts, refuses, and never reads.

No daemons: these read folders laid out as a hostile learner would (the replay and nbgrader
tests run the same corpus against real routers).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from manrs_lab.notebook.autograde import lab_of, task_of
from manrs_lab.spec.loader import load_lab
from manrs_lab.submission import (
    MAX_FILE_BYTES,
    Submission,
    accept_bird,
    accept_frr,
    accept_nft,
    accept_sysctls,
    read_submission,
)

FRR_LAB = "customer-filtering"
SECRET = "s3cr3t-token-only-root-may-read"


def saved(tmp_path: Path, lab: str = FRR_LAB) -> Path:
    folder = tmp_path / ".manrs-lab" / lab
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_text(f"root:{SECRET}:19000::::::\n")
    path.chmod(0o600)
    return path


def refusals(sub: Submission) -> str:
    return "\n".join(str(r) for r in sub.refused)


def test_a_plain_config_is_read_as_it_is(tmp_path: Path):
    folder = saved(tmp_path)
    text = load_lab(FRR_LAB).solution_path("edge").read_text()
    (folder / "edge.conf").write_text(text)
    sub = read_submission(load_lab(FRR_LAB), tmp_path)
    assert sub.refused == []
    assert sub.configs == {"edge": text.rstrip() + "\n"}


def test_a_symlinked_config_is_refused_unread(tmp_path: Path, secret: Path):
    folder = saved(tmp_path)
    (folder / "edge.conf").symlink_to(secret)
    sub = read_submission(load_lab(FRR_LAB), tmp_path)
    assert sub.configs == {}
    assert "edge.conf: refused: it is a symbolic link" in refusals(sub)
    assert SECRET not in repr(sub)


@pytest.mark.parametrize("link", [".manrs-lab", ".manrs-lab/customer-filtering"])
def test_a_symlinked_folder_is_refused_unread(tmp_path: Path, secret: Path, link: str):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "edge.conf").symlink_to(secret)
    (real / FRR_LAB).mkdir()
    (real / FRR_LAB / "edge.conf").write_text("hostname from-outside\n")
    target = real if link == ".manrs-lab" else real / FRR_LAB
    (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / link).symlink_to(target)
    sub = read_submission(load_lab(FRR_LAB), tmp_path)
    assert sub.configs == {}
    assert "is not a folder" in refusals(sub)


def test_devices_fifos_hard_links_and_huge_files_are_refused(tmp_path: Path, secret: Path):
    lab = load_lab("anti-spoofing")
    folder = saved(tmp_path, lab.id)
    os.mkfifo(folder / "edge.conf")  # opening it would block: never opened
    os.link(secret, folder / "edge.nft")
    with (folder / "edge.sysctl").open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    sub = read_submission(lab, tmp_path)
    assert sub.configs == {}
    assert sub.filters == {}
    text = refusals(sub)
    assert "edge.conf: refused: it is a FIFO" in text
    assert "edge.nft: refused: it is a hard link" in text
    assert f"edge.sysctl: refused: it is {MAX_FILE_BYTES + 1} bytes" in text
    assert SECRET not in text


def test_odd_names_and_bytes_are_refused_with_a_printable_name(tmp_path: Path):
    folder = saved(tmp_path)
    (folder / "edge.conf").write_bytes(b"hostname edge\n\xff\xfe router bgp\n")
    odd = os.fsencode(folder) + b"/edge\n\xffevil.conf"
    Path(os.fsdecode(odd)).write_text("hostname x\n")
    (folder / "cust1.conf").write_text("hostname cust1\n")  # not an editable node
    (folder / "edge.filter.sh").write_text("touch /tmp/pwned\n")
    (folder / "..edge.conf").write_text("hostname dots\n")
    sub = read_submission(load_lab(FRR_LAB), tmp_path)
    assert sub.configs == {}
    text = refusals(sub)
    assert "edge.conf: refused: it is not UTF-8 text (byte 0xff at 14)" in text
    assert "edge\\x0a\\xffevil.conf: not a file the grader reads" in text
    assert "cust1.conf: not a file the grader reads" in text
    assert "edge.filter.sh: shell scripts are never run" in text
    assert "..edge.conf: not a file the grader reads" in text
    assert "\n" not in "".join(r.file for r in sub.refused)


def test_frr_lines_that_leave_config_mode_or_touch_files_are_left_out():
    sub = Submission("f")
    text = accept_frr(
        "hostname edge\n"
        "do write file\n"
        " no start-shell sh touch /tmp/pwned\n"
        "log file /etc/cron.d/evil\n"
        "end\n"
        "write terminal\n"
        "dump bgp all /tmp/dump\n"
        "banner motd file /etc/shadow\n"
        "route-map X permit 10\n"
        " match script evil\n"
        "exit\n"
        "bgp as-path access-list ok seq 5 permit ^(64501|64502)$\n"
        "ip prefix-list P seq 5 permit 10.0.0.0/8 | sh\n"
        "rpki\n"
        " rpki cache 10.0.0.1 8282 preference 1\n"
        " rpki cache 10.0.0.1 22 user /root/.ssh/id_rsa /root/.ssh/id_rsa.pub preference 2\n"
        "exit\n"
        "end\n",
        "f/edge.conf",
        sub,
    )
    kept = [ln for ln in text.splitlines() if ln != "!"]
    assert kept == [
        "hostname edge",
        "route-map X permit 10",
        "exit",
        "bgp as-path access-list ok seq 5 permit ^(64501|64502)$",
        "rpki",
        " rpki cache 10.0.0.1 8282 preference 1",
        "exit",
        "end",
    ]
    assert len(sub.refused) == 10
    assert all(r.file == "f/edge.conf" for r in sub.refused)


def test_bird_statements_that_read_or_write_files_are_left_out():
    sub = Submission("f")
    text = accept_bird(
        "log syslog all;\n"
        'log "/etc/cron.d/evil" all;\n'
        'include "/etc/shadow";\n'
        "# include in a comment is fine\n"
        'mrtdump "/tmp/dump";\n'
        'protocol mrt dump { table master4; filename "/tmp/x"; }\n'
        "protocol rpki r { roa4 { table r4; }; remote 10.0.0.1 port 8282;\n"
        '  transport ssh { bird private key "/root/.ssh/id"; }; }\n'
        'protocol device { description "include me"; }\n',
        "f/edge.conf",
        sub,
    )
    lines = text.splitlines()
    assert lines[0] == "log syslog all;"
    assert lines[1].strip() == lines[2].strip() == lines[4].strip() == lines[5].strip() == ""
    assert lines[3] == "# include in a comment is fine"
    assert lines[6] == "protocol rpki r { roa4 { table r4; }; remote 10.0.0.1 port 8282;"
    assert lines[7].strip() == "}"
    assert lines[8] == 'protocol device { description "include me"; }'
    assert len(sub.refused) == 5, sub.refused


def test_nft_rulesets_are_tables_only_and_never_the_graders():
    sub = Submission("f")
    ruleset = (
        "table inet bcp38 {\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        '\t\tiifname "eth2" ip saddr != 198.18.2.0/24 drop comment "include me"\n'
        "\t}\n"
        "}\n"
    )
    text = accept_nft(
        ruleset
        + 'include "/etc/shadow"\n'
        + "table inet manrs_count { }\n"
        + "table ip evil {\n  define X = 1\n}\n"
        + "flush ruleset\n",
        "f/edge.nft",
        sub,
    )
    assert text == ruleset
    assert len(sub.refused) == 4, sub.refused


def test_sysctls_come_from_an_allow_list():
    sub = Submission("f")
    found = accept_sysctls(
        "net.ipv4.conf.eth1.rp_filter = 1\n"
        "net/ipv4/conf/all/rp_filter=2\n"
        "net.ipv4.conf.eth9.rp_filter = 1\n"
        "net.ipv4.ip_forward = 0\n"
        "net.ipv4.conf.eth1.rp_filter = 1; reboot\n"
        "kernel.core_pattern = |/tmp/x\n",
        {"all", "default", "lo", "eth1"},
        "f/edge.sysctl",
        sub,
    )
    assert found == (("eth1", "rp_filter", 1), ("all", "rp_filter", 2))
    assert len(sub.refused) == 4


def test_grade_cells_are_read_from_their_trusted_source():
    assert task_of('lab.assert_task("filter-cust1")') == "filter-cust1"
    assert task_of('# comment\nlab.assert_task("t")') == "t"
    assert task_of('lab.assert_task("t"); import os') is None
    assert task_of("lab.assert_task(x)") is None
    assert lab_of('from x import Lab\nlab = Lab("bogons-and-limits")\nlab.panel()', "x") == (
        "bogons-and-limits"
    )
    assert lab_of(None, "02-customer-filtering") == "customer-filtering"
