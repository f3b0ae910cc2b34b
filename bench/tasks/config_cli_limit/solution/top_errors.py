"""Most common ERROR lines of a log file, most frequent first."""

import argparse
from collections import Counter

LIMIT = 10


def top_errors(lines, limit):
    errors = [line.split("ERROR", 1)[1].strip() for line in lines if "ERROR" in line]
    return Counter(errors).most_common(limit)


def positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text}")
    return int(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--limit", type=positive, default=LIMIT)
    args = parser.parse_args()
    with open(args.log) as handle:
        for message, count in top_errors(handle, args.limit):
            print(f"{count:5d}  {message}")


if __name__ == "__main__":
    main()
