from roman import to_roman


def heading(number, title):
    return f"Chapter {to_roman(number)}: {title}"


if __name__ == "__main__":
    print(heading(4, "The build"))
