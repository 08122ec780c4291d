"""URL converters shared by both services' routes."""


class BigIdConverter:
    """Ids up to 2^63-1: a larger number is a 404, never a database or Elasticsearch error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value):
        number = int(value)
        if number > 2**63 - 1:
            raise ValueError("id out of range")
        return number

    def to_url(self, value):
        return str(value)
