"""Input serializers that reject undeclared fields: a typo must be a 400, not a silent no-op."""

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        errors = {}
        if unknown:
            allowed = ", ".join(sorted(self.fields))
            errors = {field: [f"Unknown field. Allowed: {allowed}."] for field in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**errors, **exc.detail}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class TagListField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.RegexField(
                r"^[a-z0-9][a-z0-9+#.\-]{0,49}$",
                error_messages={"invalid": "Tags are 1-50 lowercase letters, digits, or + # . -"},
            ),
            max_length=20,
            **kwargs,
        )
