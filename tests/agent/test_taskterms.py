"""The names a task asks for, looked for in the workspace when the model calls `finish`."""

from __future__ import annotations

from agent.taskterms import question, terms_of

FILES = {
    "top_errors.py": "import sys\n\ndef main():\n    print(sys.argv[1])\n",
    "users.py": "def get_user(uid):\n    return uid\n",
    "report.py": "from users import get_usr\n\nget_usr(1)\n",
}


def files() -> list[tuple[str, str]]:
    return list(FILES.items())


def test_an_option_the_task_asks_for_is_required_and_its_argument_is_not() -> None:
    terms = terms_of("Add a `--limit N` option to `top_errors.py`; the default stays 10.")
    assert terms.present == ["--limit"] and terms.absent == []


def test_a_missing_option_questions_the_finish_naming_it() -> None:
    asked = question(terms_of("Add a `--limit N` option to top_errors.py."), files)
    assert asked is not None and "`--limit` appears in no file" in asked
    # seen in the bench: `int(sys.argv[2]) if sys.argv[2].isdigit() else 10`
    assert 'parser.add_argument("--limit", ...), then args.limit' in asked
    renamed = question(terms_of("Rename `get_usr` to `get_user`."), files)
    assert renamed is not None and "argparse" not in renamed


def test_the_old_name_of_a_rename_left_in_a_file_is_named_with_the_file() -> None:
    terms = terms_of("Rename the function `get_usr` to `get_user` across the package.")
    assert terms.absent == ["get_usr"] and terms.present == ["get_user"]
    asked = question(terms, files)
    assert asked is not None and "`get_usr` (the old name) still appears in: report.py" in asked


def test_a_task_done_as_asked_is_not_questioned() -> None:
    done = {"users.py": "def get_user(uid):\n    return uid\n", "app.py": "--limit"}
    terms = terms_of("Rename `get_usr` to `get_user`. Add `--limit`.")
    assert question(terms, lambda: done.items()) is None


def test_names_in_a_sentence_that_removes_them_are_not_required() -> None:
    terms = terms_of("Remove the `legacy_mode` flag. Read the port from `APP_PORT` instead.")
    assert "legacy_mode" not in terms.present
    assert terms_of("Delete `old_helper`; keep `new_helper`.").present == ["new_helper"]


def test_plain_words_and_file_names_in_backticks_are_not_names_to_look_for() -> None:
    terms = terms_of("Fix `median` in `stats.py` so `pytest` passes.")
    assert terms.present == [] and terms.absent == []


def test_a_function_named_as_a_call_or_signature_is_required_by_its_name() -> None:
    """spec_roman: the model rewrote roman.py with from_roman only and finished."""
    task = (
        '- `to_roman(n)`: the numeral, e.g. `to_roman(1994) == "MCMXCIV"`.\n'
        "- `from_roman(s)`: the int; `to_roman(from_roman(s)) == s` must hold.\n"
        "Do not call `os.path.join(a)` or `print()`."
    )
    assert terms_of(task).present == ["to_roman", "from_roman"]
    only_one = [("roman.py", "def from_roman(s):\n    return 1\n")]
    assert question(terms_of(task), lambda: only_one) is not None


def test_files_the_task_asks_to_create_or_save_must_exist() -> None:
    """Bench, both create tasks: the script written and run, the output file never made."""
    task = (
        "Create a Python script `summarize.py` that reads `sales.csv`. Run it with\n"
        "`python3 summarize.py sales.csv` and save its output\nto `out/summary.txt`."
    )
    terms = terms_of(task)
    assert terms.outputs == ["summarize.py", "sales.csv", "out/summary.txt"]
    made = {"summarize.py": "print(1)\n", "sales.csv": "region,amount\n"}
    asked = question(terms, lambda: made.items())
    assert asked is not None and "`out/summary.txt` does not exist" in asked
    assert "`summarize.py`" not in asked and "python3 script.py ARGS > FILE" in asked
    assert question(terms, lambda: made.items(), lambda path: True) is None  # stat says it is

    def unread() -> list[tuple[str, str]]:
        raise AssertionError("no name to look for: the files need not be read")

    only_files = terms_of("Save the totals to `totals.csv`.")
    assert question(only_files, unread, lambda path: path == "totals.csv") is None


def test_files_a_task_forbids_or_deletes_or_only_reads_are_not_asked_for() -> None:
    task = (
        "Do not write `cache.db`. Delete `old.log`. Read `config.toml` and print it. "
        "Never create `tmp.txt`; don't produce `x.json`. Run `python3 app.py --out a.txt`."
    )
    assert terms_of(task).outputs == []
    assert terms_of("Write the result to `../escape.txt` or `-rf.txt`.").outputs == []


def test_a_version_suffix_in_backticks_is_not_an_option_to_look_for() -> None:
    """spec_versions: `-rcN` was required to appear in a file, as if it were an option."""
    assert terms_of("optionally followed by `-rcN` where N is positive").present == []
    assert terms_of("Add a `--dry-run` flag.").present == ["--dry-run"]


def test_names_with_a_dot_that_are_not_files_are_not_asked_for() -> None:
    """Review: `json.dump`, `os.path`, `app.models`, `1.3.0` and `example.com` were taken
    for files the task asks to create."""
    task = (
        "Write the results with `json.dump`. Use `os.path` to create the folder. Create a "
        "class in `app.models`. Write the version `1.3.0` to the log. Save the page from "
        "`example.com` to `page.html`."
    )
    assert terms_of(task).outputs == ["page.html"]
