"""A small reader (and writer) of Protein Data Bank coordinate files, for the XFEL generator.

Only what diffraction needs is read: the ``ATOM`` and ``HETATM`` records of the first model
(up to the first ``ENDMDL``), their atom and residue names, coordinates (Å) and elements.  The
fixed columns of the PDB format are used (name 13–16, alternate location 17, residue 18–20,
x/y/z 31–54, element 77–78).  Of atoms with alternate locations, only the first location
(blank or the first letter met) is kept.

The element comes from columns 77–78 when they hold one; otherwise from the atom name (many
programs, CHARMM among them, leave the element out): in ``ATOM`` records (polymers) it is the
first letter of the name after any leading digits (``CA`` is a carbon, ``1HB`` a hydrogen); in
``HETATM`` records a name that is a two-letter element written from column 13 (``FE``, ``ZN``)
or equal to its residue name (a lone ion, ``CA`` in residue ``CA``) is that element.

Errors are :class:`~scinas.errors.DataError` naming the file and the line.

Example::

    structure = read_pdb(Path("adk_open.pdb"))
    structure.coordinates.shape        # (n_atoms, 3), Å
    heavy = structure.without_hydrogens()
    Path("heavy.pdb").write_text(format_pdb(heavy, remarks=["heavy atoms only"]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from scinas.errors import DataError

__all__ = ["WATER_RESIDUES", "Structure", "element_from_name", "format_pdb", "read_pdb"]

WATER_RESIDUES = frozenset({"HOH", "WAT", "H2O", "DOD", "TIP", "TIP3", "SOL"})
"""Residue names of water molecules."""

_TWO_LETTER = frozenset({"FE", "ZN", "MG", "CA", "NA", "CL", "MN", "CU", "CO", "NI", "SE", "BR", "CD", "HG", "LI",
                         "AL", "SI", "AU", "AG", "PT", "PB", "CS", "RB", "SR", "BA", "GA", "AS", "MO", "W"})
_HYDROGENS = frozenset({"H", "D"})


@dataclass(frozen=True, eq=False)
class Structure:
    """The atoms of one PDB file: names, residues, elements, coordinates ``(n, 3)`` in Å.

    ``sequence`` holds the residue numbers (columns 23–26, 0 where blank); ``lines`` the 1-based
    line numbers of the atoms in ``path`` (for error messages).
    """

    path: str
    names: tuple[str, ...]
    residues: tuple[str, ...]
    sequence: tuple[int, ...]
    elements: tuple[str, ...]
    coordinates: NDArray[np.float64]
    hetero: tuple[bool, ...]
    lines: tuple[int, ...]

    @property
    def n_atoms(self) -> int:
        return len(self.names)

    def subset(self, keep: NDArray[np.bool_] | Sequence[bool]) -> Structure:
        """The atoms where ``keep`` is true, in their order."""
        mask = np.asarray(keep, dtype=bool)
        index = np.flatnonzero(mask)
        return Structure(self.path, tuple(self.names[i] for i in index), tuple(self.residues[i] for i in index),
                         tuple(self.sequence[i] for i in index), tuple(self.elements[i] for i in index),
                         self.coordinates[mask].copy(), tuple(self.hetero[i] for i in index),
                         tuple(self.lines[i] for i in index))

    def without_hydrogens(self) -> Structure:
        """Heavy atoms only (hydrogen and deuterium dropped)."""
        return self.subset([element.upper() not in _HYDROGENS for element in self.elements])

    def without_water(self) -> Structure:
        """Every atom not in a water residue (``HOH``, ``WAT``, ...)."""
        return self.subset([residue.upper() not in WATER_RESIDUES for residue in self.residues])


def element_from_name(name: str, residue: str, hetero: bool) -> str:
    """The element of an atom whose element columns are blank, from its 4-character name field.

    ``name`` is columns 13–16 as written (leading blank kept); see the module docstring.
    """
    stripped = name.strip()
    letters = stripped.lstrip("0123456789")
    letters = "".join(c for c in letters if c.isalpha())
    if not letters:
        return ""
    if hetero and len(letters) >= 2:
        two = letters[:2].upper()
        if two in _TWO_LETTER and (residue.strip().upper() == letters.upper() or name[:1] not in (" ", "")):
            return two.capitalize()
    return letters[0].upper()


def _coordinate(line: str, start: int, stop: int, axis: str, where: str) -> float:
    text = line[start:stop]
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {axis} = {text.strip()!r} (columns {start + 1}–{stop}) is not a number; "
                        "an ATOM/HETATM record holds x, y, z in columns 31–54") from None
    if not np.isfinite(value):
        raise DataError(f"{where}: {axis} = {text.strip()!r} is not a finite coordinate")
    return value


def read_pdb(path: Path) -> Structure:
    """The atoms of the first model of ``path``; DataError naming the file (and line) if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise DataError(f"{path}: no such PDB file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a PDB file (not text: {exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    names: list[str] = []
    residues: list[str] = []
    sequence: list[int] = []
    elements: list[str] = []
    coordinates: list[tuple[float, float, float]] = []
    hetero: list[bool] = []
    numbers: list[int] = []
    alternate = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        record = raw[:6].rstrip().upper()
        if record == "ENDMDL" and names:
            break
        if record not in ("ATOM", "HETATM"):
            continue
        where = f"{path}, line {number}"
        line = raw.ljust(80)
        if len(raw.rstrip()) < 54:
            raise DataError(f"{where}: an {record} record of {len(raw.rstrip())} characters is too short "
                            "(x, y, z are in columns 31–54)")
        location = line[16]
        if location != " ":
            alternate = alternate or location
            if location != alternate:
                continue
        x, y, z = (_coordinate(line, a, b, axis, where) for a, b, axis in ((30, 38, "x"), (38, 46, "y"),
                                                                            (46, 54, "z")))
        name, residue = line[12:16], line[17:20].strip()
        element = line[76:78].strip()
        element = element.capitalize() if element.isalpha() else element_from_name(name, residue, record == "HETATM")
        if not element:
            raise DataError(f"{where}: no element in columns 77–78 and none can be read from the atom name "
                            f"{name.strip()!r}")
        names.append(name.strip())
        residues.append(residue)
        sequence.append(int(line[22:26]) if line[22:26].strip().lstrip("-").isdigit() else 0)
        elements.append(element)
        coordinates.append((x, y, z))
        hetero.append(record == "HETATM")
        numbers.append(number)
    if not names:
        raise DataError(f"{path}: not a PDB file, or one without atoms (no ATOM or HETATM record)")
    return Structure(str(path), tuple(names), tuple(residues), tuple(sequence), tuple(elements),
                     np.array(coordinates, dtype=np.float64), tuple(hetero), tuple(numbers))


def format_pdb(structure: Structure, *, remarks: Sequence[str] = ()) -> str:
    """``structure`` as PDB text (standard columns, element in 77–78), ``REMARK`` lines first."""
    out = [f"REMARK {remark}".rstrip() for remark in remarks]
    for i, (name, residue, number, element, (x, y, z), het) in enumerate(zip(
            structure.names, structure.residues, structure.sequence, structure.elements, structure.coordinates,
            structure.hetero, strict=True), start=1):
        # one-letter elements start in column 14, two-letter ones (and 4-character names) in 13
        field = name if len(name) == 4 or len(element) == 2 else f" {name}"
        record = "HETATM" if het else "ATOM"
        out.append(f"{record:<6}{i % 100000:>5} {field:<4} {residue:>3}  {number % 10000:>4}    "
                   f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}          {element.upper():>2}")
    out.append("END")
    return "\n".join(out) + "\n"
