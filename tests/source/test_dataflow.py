"""Bindings seen at a use: the latest assignment before it, per function, with self.x shared by methods."""

from __future__ import annotations

import libcst as cst

from nanlint.source.rule import Context
from nanlint.source.traversal import Dispatcher


def values_at_calls(source: str, callee: str = "use") -> list[str | None]:
    """For each call `use(name)`, the source of the expression `name` resolves to at that point."""
    module = cst.parse_module(source)
    ctx = Context(module=module)
    found: list[str | None] = []

    class Probe:
        def visit_Call(self, node):
            if isinstance(node.func, cst.Name) and node.func.value == callee:
                value = ctx.dataflow.value_of(node.args[0].value)
                found.append(None if value is None else module.code_for_node(value))

    dispatcher = Dispatcher()
    dispatcher.register(ctx.dataflow)
    dispatcher.register(Probe())
    dispatcher.walk(module)
    return found


def test_latest_assignment_before_the_use():
    assert values_at_calls("p = a\nuse(p)\np = b\nuse(p)\n") == ["a", "b"]


def test_right_hand_side_sees_the_old_value():
    assert values_at_calls("p = a\np = use(p)\n") == ["a"]


def test_augmented_assignment_becomes_a_binary_operation():
    assert values_at_calls("p = a\np += eps\nuse(p)\n") == ["a + eps"]


def test_functions_have_their_own_names_and_see_module_constants():
    source = "EPS = 1e-8\np = 1\ndef f():\n    use(EPS)\n    use(p)\n    p = 2\n    use(p)\nuse(p)\n"
    assert values_at_calls(source) == ["1e-8", "1", "2", "1"]


def test_self_attributes_are_shared_by_methods_of_one_class():
    source = (
        "class A:\n    def __init__(self):\n        self.w = make()\n"
        "    def forward(self):\n        use(self.w)\n"
        "class B:\n    def forward(self):\n        use(self.w)\n"
    )
    assert values_at_calls(source) == ["make()", None]


def test_loop_targets_and_unpacking_are_unknown():
    source = "x = a\nfor x in xs:\n    use(x)\ny = b\ny, z = pair\nuse(y)\n"
    assert values_at_calls(source) == [None, None]


def test_walrus_and_annotated_assignments_bind():
    assert values_at_calls("if (q := f(x)):\n    use(q)\nr: int = g()\nuse(r)\n") == ["f(x)", "g()"]


def test_a_name_inside_an_assigned_value_keeps_its_binding_at_that_time():
    source = "p = softmax(z)\np = p * mask\nuse(p)\n"
    module = cst.parse_module(source)
    ctx = Context(module=module)
    seen = []

    class Probe:
        def visit_Call(self, node):
            if isinstance(node.func, cst.Name) and node.func.value == "use":
                product = ctx.dataflow.value_of(node.args[0].value)
                inner = ctx.dataflow.value_of(product.left)
                seen.append((module.code_for_node(product), module.code_for_node(inner)))

    dispatcher = Dispatcher()
    dispatcher.register(ctx.dataflow)
    dispatcher.register(Probe())
    dispatcher.walk(module)
    assert seen == [("p * mask", "softmax(z)")]


def test_rebinding_in_place_reaches_the_first_value():
    # img = imread(...); img = resize(img); x = img.astype(...): the chain ends at imread, not in a loop
    source = "img = imread(path)\nimg = resize(img, size)\nuse(img)\n"
    module = cst.parse_module(source)
    ctx = Context(module=module)
    chain = []

    class Probe:
        def visit_Call(self, node):
            if isinstance(node.func, cst.Name) and node.func.value == "use":
                value = ctx.dataflow.value_of(node.args[0].value)
                while value is not None:
                    chain.append(module.code_for_node(value.func))
                    inner = value.args[0].value
                    value = ctx.dataflow.value_of(inner) if isinstance(inner, cst.Name) else None

    dispatcher = Dispatcher()
    dispatcher.register(ctx.dataflow)
    dispatcher.register(Probe())
    dispatcher.walk(module)
    assert chain == ["resize", "imread"]


def test_an_attribute_left_none_in_another_branch_keeps_its_value():
    """`self.w = Parameter(...) if used else None`: arithmetic on self.w can only be on the value."""
    source = (
        "class M:\n"
        "    def __init__(self, used):\n"
        "        if used:\n"
        "            self.w = make()\n"
        "        else:\n"
        "            self.w = None\n"
        "    def forward(self, x):\n"
        "        use(self.w)\n"
    )
    assert values_at_calls(source) == ["make()"]


def test_none_alone_and_a_local_set_to_none_are_bindings_as_before():
    assert values_at_calls("class M:\n    def __init__(self):\n        self.w = None\n        use(self.w)\n") == [
        "None"
    ]
    assert values_at_calls("p = a\np = None\nuse(p)\n") == ["None"]
