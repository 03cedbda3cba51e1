"""Token layout of a ViT sequence, ``[cls?][dist?][registers x R][patches row-major]`` as
in timm: everything that indexes the sequence goes through :class:`TokenLayout`, so no
code assumes one prefix token or a square grid. Pure Python (no torch)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class TokenKind(enum.Enum):
    """What a position in the token sequence holds."""

    CLASS = "class"
    DISTILLATION = "distillation"
    REGISTER = "register"
    PATCH = "patch"


@dataclass(frozen=True)
class TokenLayout:
    """Layout of one input's token sequence: ``num_class`` (0 or 1), ``num_dist`` (0 or 1)
    and ``num_reg`` prefix tokens, then the patch ``grid`` ``(rows, cols)``, never assumed
    square. ``pool_query``: the model pools with a learned latent query (``map``), whose
    attention over the sequence is returned apart from the blocks'."""

    num_class: int
    num_dist: int
    num_reg: int
    grid: tuple[int, int]
    pool_query: bool = False

    @property
    def num_prefix(self) -> int:
        """Number of non-patch tokens before the patches."""
        return self.num_class + self.num_dist + self.num_reg

    @property
    def num_patches(self) -> int:
        """Number of patch tokens (``rows * cols``)."""
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        """Sequence length ``N`` seen by the attention blocks."""
        return self.num_prefix + self.num_patches

    @property
    def class_index(self) -> int | None:
        """Index of the class token, or None for models without one."""
        return 0 if self.num_class else None

    @property
    def prefix_labels(self) -> tuple[str, ...]:
        """Short labels of the prefix tokens: ``CLS``, ``DIST``, ``REG0`` ..."""
        labels = ["CLS"] * self.num_class + ["DIST"] * self.num_dist
        labels += [f"REG{i}" for i in range(self.num_reg)]
        return tuple(labels)

    def kind(self, index: int) -> TokenKind:
        """Kind of the token at sequence position ``index``."""
        if not 0 <= index < self.num_tokens:
            raise IndexError(f"token {index} outside a sequence of {self.num_tokens}")
        if index < self.num_class:
            return TokenKind.CLASS
        if index < self.num_class + self.num_dist:
            return TokenKind.DISTILLATION
        if index < self.num_prefix:
            return TokenKind.REGISTER
        return TokenKind.PATCH

    def label(self, index: int) -> str:
        """Human-readable label: ``CLS`` / ``DIST`` / ``REG2`` / ``patch (r, c)``."""
        if index < self.num_prefix:
            return self.prefix_labels[index]
        row, col = self.patch_position(index)
        return f"patch ({row}, {col})"

    def patch_index(self, row: int, col: int) -> int:
        """Sequence index of the patch at grid position ``(row, col)``."""
        rows, cols = self.grid
        if not (0 <= row < rows and 0 <= col < cols):
            raise IndexError(f"patch ({row}, {col}) outside a {rows}x{cols} grid")
        return self.num_prefix + row * cols + col

    def patch_position(self, index: int) -> tuple[int, int]:
        """Grid position ``(row, col)`` of the patch token at sequence ``index``."""
        if self.kind(index) is not TokenKind.PATCH:
            raise IndexError(f"token {index} is {self.label(index)}, not a patch")
        return divmod(index - self.num_prefix, self.grid[1])

    def with_grid(self, grid: tuple[int, int]) -> TokenLayout:
        """The same prefix tokens over another patch grid (another input size)."""
        return replace(self, grid=(int(grid[0]), int(grid[1])))
