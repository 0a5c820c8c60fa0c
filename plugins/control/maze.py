"""The maze gridworld (``MazeEnv``): random mazes drawn from the reset seed, and the planning they need.

A ``gymnasium.Env`` like any other environment; ``builtin_envs`` registers its variants (Maze-v0, Maze-map-v0
...). ``shortest_path`` is the breadth-first search that the maze expert and evaluation's path ratio use.
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core import AppsError

# Moves of the maze agent: (row, column) deltas for up, right, down, left.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
ACTION_NAMES = ("up", "right", "down", "left")


def generate_maze(rng: np.random.Generator, size: int, density: float = 0.25, kind: str = "obstacles"):
    """A random maze: ``(grid, start, goal)`` with ``grid[r, c] == 1`` for walls and a wall border.

    ``obstacles``: interior cells are walls with probability ``density``; ``perfect``: a depth-first-search
    maze (corridors one cell wide) with a fraction ``density`` of its inner walls knocked out to add loops.
    Start and goal are free cells at least ``size - 1`` apart (Manhattan) with a path between them.
    """
    if size < 3:
        raise AppsError(f"maze size {size} is too small", hint="use a size of at least 3")
    for _ in range(1000):
        grid = _perfect_grid(rng, size, density) if kind == "perfect" else _obstacle_grid(rng, size, density)
        free = np.argwhere(grid == 0)
        if len(free) < 2:
            continue
        start = tuple(int(v) for v in free[rng.integers(len(free))])
        far = [
            tuple(int(v) for v in p) for p in free if abs(p[0] - start[0]) + abs(p[1] - start[1]) >= size - 1
        ]
        if not far:
            continue
        goal = far[rng.integers(len(far))]
        if shortest_path(grid, start, goal) is not None:
            return grid, start, goal
    raise AppsError(
        f"could not generate a solvable {size}x{size} maze with density {density}", hint="lower the density"
    )


def _obstacle_grid(rng, size, density):
    grid = np.ones((size + 2, size + 2), dtype=np.int8)
    grid[1:-1, 1:-1] = (rng.random((size, size)) < density).astype(np.int8)
    return grid


def _perfect_grid(rng, size, density):
    # cells sit at odd coordinates; carve a spanning tree by depth-first search, then open extra walls.
    n = size + 2 if size % 2 == 1 else size + 1
    grid = np.ones((n, n), dtype=np.int8)
    cells = [(r, c) for r in range(1, n - 1, 2) for c in range(1, n - 1, 2)]
    start = cells[rng.integers(len(cells))]
    grid[start] = 0
    stack, seen = [start], {start}
    while stack:
        r, c = stack[-1]
        options = [
            (r + 2 * dr, c + 2 * dc)
            for dr, dc in MOVES
            if 0 < r + 2 * dr < n - 1 and 0 < c + 2 * dc < n - 1 and (r + 2 * dr, c + 2 * dc) not in seen
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        grid[(r + nr) // 2, (c + nc) // 2] = 0
        grid[nr, nc] = 0
        seen.add((nr, nc))
        stack.append((nr, nc))
    inner = [(r, c) for r in range(1, n - 1) for c in range(1, n - 1) if grid[r, c] == 1 and (r + c) % 2 == 1]
    for index in rng.permutation(len(inner))[: int(density * len(inner))]:
        grid[inner[index]] = 0
    return grid


def shortest_path(grid: np.ndarray, start: tuple, goal: tuple) -> list[tuple] | None:
    """Breadth-first search: the list of cells from ``start`` to ``goal`` (both included), or None."""
    if grid[start] or grid[goal]:
        return None
    parent = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            path = []
            while cell is not None:
                path.append(cell)
                cell = parent[cell]
            return path[::-1]
        for dr, dc in MOVES:
            nxt = (cell[0] + dr, cell[1] + dc)
            if grid[nxt] == 0 and nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    return None


def path_actions(path: list[tuple]) -> list[int]:
    """The actions that walk ``path`` cell by cell."""
    return [MOVES.index((b[0] - a[0], b[1] - a[1])) for a, b in zip(path, path[1:], strict=False)]


class MazeEnv(gym.Env):
    """Reach the goal of a random maze. A new maze every ``reset`` (drawn from the reset seed).

    Observation (float32): the walls of the ``(2r+1)x(2r+1)`` cells around the agent (1 = wall; outside
    the maze counts as wall), then the goal's offset (rows, columns) divided by the maze size, then 1.0
    when the goal is within the view. With ``memory=True`` the cells the agent has stood on read 0.5 in the
    view. With ``mapping=True`` the grid part is instead the agent's map of the whole maze, centred on the
    agent (radius ``size + 1``, so the maze is always inside): every cell it has seen keeps its value, cells
    never seen read 0.5; ``plan()`` then plans on that map with unseen cells taken as free (navigation under
    the free-space assumption), so the expert knows only what the agent knows and never loops.
    Actions: 0 up, 1 right, 2 down, 3 left; a move into a wall keeps
    the agent in place. Reward 1 on reaching the goal, -0.01 for every other step. Episodes are truncated
    after ``max_steps`` (default 4 x size^2). ``info["shortest"]`` is the BFS path length from the start.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(
        self,
        size: int = 10,
        density: float = 0.25,
        kind: str = "obstacles",
        view_radius: int = 4,
        max_steps: int | None = None,
        render_mode: str | None = None,
        memory: bool = False,
        mapping: bool = False,
    ):
        if kind not in ("obstacles", "perfect"):
            raise AppsError(f"unknown maze kind '{kind}'", hint="use obstacles or perfect")
        self.size, self.density, self.kind, self.view_radius = size, density, kind, view_radius
        self.memory, self.mapping = memory, mapping
        self.max_steps = max_steps or 4 * size * size
        self.render_mode = render_mode
        self.grid_radius = size + 1 if mapping else view_radius  # radius of the grid part of observations
        side = 2 * self.grid_radius + 1
        low = np.concatenate([np.zeros(side * side), [-1.0, -1.0, 0.0]]).astype(np.float32)
        high = np.concatenate([np.ones(side * side), [1.0, 1.0, 1.0]]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        self.grid = None
        self.agent = self.goal = self.start = None
        self.trail: list[tuple] = []
        self.steps = 0
        self.shortest = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.grid, self.start, self.goal = generate_maze(self.np_random, self.size, self.density, self.kind)
        self.agent = self.start
        self.trail = [self.start]
        self.visited = np.zeros(self.grid.shape, dtype=bool)  # the trail as a grid: O(1) per step to update
        self.visited[self.start] = True
        if self.mapping:
            self.seen = np.zeros(self.grid.shape, dtype=bool)  # cells the agent has had in view
            self.seen[[0, -1], :] = self.seen[:, [0, -1]] = True  # the border: it knows the maze's bounds
            self._look()
        self.steps = 0
        self.shortest = len(shortest_path(self.grid, self.start, self.goal)) - 1
        return self._observation(), self._info()

    def step(self, action):
        dr, dc = MOVES[int(action)]
        target = (self.agent[0] + dr, self.agent[1] + dc)
        if self.grid[target] == 0:
            self.agent = target
        self.trail.append(self.agent)
        self.visited[self.agent] = True
        if self.mapping:
            self._look()
        self.steps += 1
        reached = self.agent == self.goal
        reward = 1.0 if reached else -0.01
        truncated = not reached and self.steps >= self.max_steps
        return self._observation(), reward, reached, truncated, self._info()

    def action_mask(self) -> np.ndarray:
        """Moves that do not walk into a wall (the agent sees its neighbours, so policies may use this)."""
        return np.array([self.grid[self.agent[0] + dr, self.agent[1] + dc] == 0 for dr, dc in MOVES])

    def plan(self) -> list[tuple] | None:
        """The shortest path from where the agent stands now to the goal (``mapping``: on the agent's map,
        unseen cells taken as free)."""
        grid = np.where(self.seen, self.grid, 0) if self.mapping else self.grid
        return shortest_path(grid, self.agent, self.goal)

    def _look(self) -> None:
        r, (row, col) = self.view_radius, self.agent
        self.seen[max(row - r, 0) : row + r + 1, max(col - r, 0) : col + r + 1] = True

    def _info(self) -> dict:
        return {"shortest": self.shortest, "steps": self.steps, "success": self.agent == self.goal}

    def _observation(self) -> np.ndarray:
        r = self.grid_radius
        cells = self.grid.astype(np.float32)
        if self.mapping:  # the agent's map: what it has seen, 0.5 where it has not looked yet
            cells[~self.seen] = 0.5
        if self.memory:  # cells the agent has stood on read 0.5: it can tell where it has been
            cells[self.visited] = 0.5
        padded = np.pad(cells, r, constant_values=1)
        row, col = self.agent[0] + r, self.agent[1] + r
        view = padded[row - r : row + r + 1, col - r : col + r + 1].ravel()
        dr, dc = self.goal[0] - self.agent[0], self.goal[1] - self.agent[1]
        visible = float(abs(dr) <= self.view_radius and abs(dc) <= self.view_radius)
        return np.concatenate([view, [dr / self.size, dc / self.size, visible]]).astype(np.float32)

    def render(self):
        from plugins.control.render import draw_maze

        return draw_maze(self)
