"""Most common ERROR lines of a log file, most frequent first."""

import sys
from collections import Counter

LIMIT = 10


def top_errors(lines, limit):
    errors = [line.split("ERROR", 1)[1].strip() for line in lines if "ERROR" in line]
    return Counter(errors).most_common(limit)


def main():
    path = sys.argv[1]
    with open(path) as handle:
        for message, count in top_errors(handle, LIMIT):
            print(f"{count:5d}  {message}")


if __name__ == "__main__":
    main()
