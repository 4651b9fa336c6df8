import promptkey
from promptkey import CanonicalizationError, InvalidOptionError, PromptKeyError, UnsupportedTypeError


def test_version_comes_from_cargo() -> None:
    assert promptkey.__version__.count(".") == 2


def test_exception_tree_inherits_builtins() -> None:
    assert issubclass(CanonicalizationError, ValueError) and issubclass(CanonicalizationError, PromptKeyError)
    assert issubclass(UnsupportedTypeError, TypeError) and issubclass(UnsupportedTypeError, PromptKeyError)
    assert issubclass(InvalidOptionError, ValueError)
    err = CanonicalizationError("nan is not valid json", "messages[0].content")
    assert err.path == "messages[0].content"
    assert "messages[0].content" in str(err)
