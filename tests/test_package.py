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


def test_a_missing_redis_extra_is_named_in_one_line() -> None:
    import subprocess
    import sys

    # `None` in sys.modules makes `import redis` fail as it does where redis-py is not installed.
    code = "import sys; sys.modules['redis'] = None\nimport promptkey\ntry:\n    promptkey.RedisStore\n"
    code += "except ModuleNotFoundError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "promptkey.RedisStore needs the 'redis' extra: pip install 'promptkey[redis]'"
