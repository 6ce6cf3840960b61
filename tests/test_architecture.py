"""docs/architecture.md's floor table is the import graph: each module imports (at module level)
only from lower floors. The table is read from the page, the imports from the code."""
import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, 'docs', 'architecture.md')
# same-floor imports the page names: the engine's operators, metrics built on losses, the registry
ALLOWED_SAME_FLOOR = {('autograd', 'functional'), ('autograd', 'kernels'), ('metrics', 'losses')}


def unit_of_path(rel):
    """'functional/conv.py' -> 'functional'; 'kernels/conv.py' -> 'kernels/forms'."""
    parts = rel[:-3].split('/')
    if parts[0] == 'kernels':
        return 'kernels' if parts[-1] == '__init__' else 'kernels/forms'
    return parts[0]


def unit_of_module(dotted):
    parts = dotted.split('.')[1:]
    if not parts:
        return None
    if parts[0] == 'kernels':
        return 'kernels' if len(parts) == 1 or parts[1] in ('register', 'find', 'make') else 'kernels/forms'
    return parts[0]


def floors_from_page():
    floors = {}
    for line in open(PAGE):
        m = re.match(r'\|\s*(\d+)\s*\|([^|]*)\|', line)
        if not m:
            continue
        for name in re.findall(r'`([^`]+)`', m.group(2)):
            name = name.rstrip('/').replace('.py', '')
            floors['kernels/forms' if name == 'kernels/*' else 'kernels' if name == 'kernels/__init__' else name] = \
                int(m.group(1))
    return floors


def module_level_imports():
    """{unit: {imported unit}} for the imports at the top level of every minidl module."""
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, 'minidl')):
        for f in files:
            if not f.endswith('.py'):
                continue
            path = os.path.join(folder, f)
            rel = os.path.relpath(path, os.path.join(ROOT, 'minidl'))
            package = os.path.relpath(folder, ROOT).replace(os.sep, '.')
            unit = unit_of_path(rel)
            for node in ast.parse(open(path).read()).body:
                if isinstance(node, ast.ImportFrom) and node.level:
                    base = package.split('.')[:len(package.split('.')) - node.level + 1]
                    module = '.'.join(base + ([node.module] if node.module else []))
                    targets = [module] if node.module else [f'{module}.{a.name}' for a in node.names]
                    for t in targets:
                        target = unit_of_module(t)
                        if target and target != unit:
                            found.setdefault(unit, set()).add(target)
    return found


def test_every_module_is_on_a_floor_of_the_page():
    floors = floors_from_page()
    units = {unit_of_path(os.path.relpath(os.path.join(d, f), os.path.join(ROOT, 'minidl')))
             for d, _, fs in os.walk(os.path.join(ROOT, 'minidl')) for f in fs if f.endswith('.py')}
    missing = sorted(u for u in units - {'__init__'} if u not in floors)
    assert not missing, f'docs/architecture.md has no floor for {missing}'


def test_imports_go_down_the_floors():
    floors = floors_from_page()
    upward = []
    for unit, targets in module_level_imports().items():
        if unit == '__init__':
            continue
        for target in targets:
            if target in floors and unit in floors and floors[target] >= floors[unit] \
                    and (unit, target) not in ALLOWED_SAME_FLOOR:
                upward.append(f'{unit} (floor {floors[unit]}) imports {target} (floor {floors[target]})')
    assert not upward, 'imports that go up or sideways, against docs/architecture.md: ' + '; '.join(sorted(upward))


def test_fast_forms_never_import_a_reference_module():
    for unit, targets in module_level_imports().items():
        if unit == 'kernels/forms':
            assert 'functional' not in targets
