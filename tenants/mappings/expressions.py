"""The expression language of attribute mappings, in the style of Entra's provisioning
functions: `[attribute]`, "string" constants (`\\"` and `\\\\` escaped, as Entra escapes
them), whole numbers where a function needs one, `Function(arg, , arg)` calls with
case-insensitive names and omitted arguments (Replace's), and comparisons (`[c]="USA"`)
for IIF's condition.

A hand-written tokenizer and recursive-descent parser build an AST; `evaluate.py` walks it
with a fixed function table. Nothing here executes the text: there is no `eval`, no
attribute access and no import. Every error is an `ExpressionError(message, position)` with
the 1-based position of the character at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LENGTH = 1000  # characters of an expression
MAX_DEPTH = 12  # nested calls and comparisons
COMPARISONS = ("==", "!=", "<>", "=")
DIGITS = frozenset("0123456789")  # str.isdigit() also takes "²", which int() refuses


class ExpressionError(ValueError):
    def __init__(self, message: str, position: int, hint: str = "") -> None:
        super().__init__(f"{message} at {position}" + (f" ({hint})" if hint else ""))
        self.message, self.position, self.hint = message, position, hint


@dataclass(frozen=True)
class Attribute:
    name: str
    position: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Text:
    value: str
    position: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Number:
    value: int
    position: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Omitted:
    """An argument left out, as in `Replace([x], , "a.*", , "")`."""

    position: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Call:
    name: str  # as the function table spells it
    args: tuple = ()
    position: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Compare:
    operator: str  # "=" or "!=" (== and <> are read as these)
    left: object
    right: object
    position: int = field(default=1, compare=False)


Node = Attribute | Text | Number | Omitted | Call | Compare


@dataclass(frozen=True)
class Token:
    kind: str  # attr, text, number, name, "(", ")", ",", op, end
    value: str
    position: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"Expression longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    tokens, i = [], 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append(Token(char, char, i + 1))
            i += 1
        elif char == "[":
            i = _attribute(text, i, tokens)
        elif char == '"':
            i = _string(text, i, tokens)
        elif char in DIGITS or (char == "-" and text[i + 1 : i + 2] in DIGITS):
            i = _number(text, i, tokens)
        elif char.isascii() and char.isalpha():
            i = _name(text, i, tokens)
        elif op := next((op for op in COMPARISONS if text.startswith(op, i)), None):
            tokens.append(Token("op", {"==": "=", "<>": "!="}.get(op, op), i + 1))
            i += len(op)
        else:
            raise ExpressionError(f"Unexpected character {char!r}", i + 1)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _attribute(text: str, i: int, tokens: list[Token]) -> int:
    end = text.find("]", i + 1)
    if end == -1:
        raise ExpressionError("Missing ']'", len(text) + 1)
    name = text[i + 1 : end].strip()
    if not name or any(c in name for c in '["(),'):
        raise ExpressionError("An attribute name goes between [ and ]", i + 1)
    tokens.append(Token("attr", name, i + 1))
    return end + 1


def _string(text: str, i: int, tokens: list[Token]) -> int:
    chars, j = [], i + 1
    while j < len(text):
        char = text[j]
        if char == "\\" and j + 1 < len(text) and text[j + 1] in '"\\':
            chars.append(text[j + 1])
            j += 2
        elif char == '"':
            tokens.append(Token("text", "".join(chars), i + 1))
            return j + 1
        else:
            chars.append(char)
            j += 1
    raise ExpressionError("Missing closing '\"' of the string started", i + 1)


def _number(text: str, i: int, tokens: list[Token]) -> int:
    j = i + 1
    while j < len(text) and text[j] in DIGITS:
        j += 1
    if j - i > 6:
        raise ExpressionError("Number too large", i + 1)
    tokens.append(Token("number", text[i:j], i + 1))
    return j


def _name(text: str, i: int, tokens: list[Token]) -> int:
    j = i
    while j < len(text) and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
        j += 1
    tokens.append(Token("name", text[i:j], i + 1))
    return j


class _Parser:
    def __init__(self, tokens: list[Token], functions) -> None:
        self.tokens, self.at, self.functions = tokens, 0, functions

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expression(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"Nested more than {MAX_DEPTH} deep", self.token.position)
        left = self.operand(depth)
        if self.token.kind == "op":
            op = self.take()
            right = self.operand(depth + 1)
            return Compare(op.value, left, right, op.position)
        return left

    def operand(self, depth: int) -> Node:
        token = self.take()
        if token.kind == "attr":
            return Attribute(token.value, token.position)
        if token.kind == "text":
            return Text(token.value, token.position)
        if token.kind == "number":
            return Number(int(token.value), token.position)
        if token.kind == "name":
            return self.call(token, depth)
        if token.kind == "end":
            raise ExpressionError("Expression ends too early", token.position)
        raise ExpressionError(f"Unexpected '{token.value}'", token.position)

    def call(self, name: Token, depth: int) -> Call:
        spec = self.functions.get(name.value.casefold())
        if spec is None:
            raise ExpressionError(f"Unknown function '{name.value}'", name.position)
        if self.token.kind != "(":
            raise ExpressionError(f"Missing '(' after {spec.name}", self.token.position)
        self.take()
        args = self.arguments(depth)
        spec.check(args, name.position)
        return Call(spec.name, tuple(args), name.position)

    def arguments(self, depth: int) -> list[Node]:
        args: list[Node] = []
        if self.token.kind == ")":
            self.take()
            return args
        while True:
            if self.token.kind in (",", ")"):
                args.append(Omitted(self.token.position))
            else:
                args.append(self.expression(depth + 1))
            token = self.take()
            if token.kind == ")":
                return args
            if token.kind != ",":
                raise ExpressionError("Missing ')'", token.position)


def parse(text: str) -> Node:
    """The AST of `text`, or ExpressionError."""
    from tenants.mappings.functions import FUNCTIONS

    parser = _Parser(tokenize(text), FUNCTIONS)
    if parser.token.kind == "end":
        raise ExpressionError("Empty expression", 1)
    node = parser.expression(1)
    if parser.token.kind != "end":
        raise ExpressionError(f"Unexpected '{parser.token.value}'", parser.token.position)
    return node


def render(node: Node) -> str:
    """`node` as text that parses back to it."""
    match node:
        case Attribute(name):
            return f"[{name}]"
        case Text(value):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        case Number(value):
            return str(value)
        case Omitted():
            return ""
        case Call(name, args):
            return f"{name}({', '.join(render(a) for a in args)})"
        case Compare(operator, left, right):
            return f"{render(left)}{operator}{render(right)}"
    raise TypeError(node)


def attributes_of(node: Node) -> list[Attribute]:
    """Every attribute `node` reads, in order."""
    match node:
        case Attribute():
            return [node]
        case Call(_, args):
            return [a for arg in args for a in attributes_of(arg)]
        case Compare(_, left, right):
            return [*attributes_of(left), *attributes_of(right)]
    return []
