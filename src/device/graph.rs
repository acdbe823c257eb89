//! [`LaunchGraph`]: a fixed sequence of launches run op by op, or recorded once as a launch
//! graph and replayed (`--cuda-graphs`), for the training iteration and colorize's
//! inference batch.

use super::Device;

/// How a fixed sequence of launches runs ([`LaunchGraph::run`]).
pub enum LaunchGraph<G> {
    /// Op by op, always.
    Off,
    /// Op by op once more (buffers allocated on first use come into being), then recorded.
    Warmup,
    /// To be recorded at the next run.
    Ready,
    /// Recorded: every run replays it.
    Recorded(G),
}

impl<G> LaunchGraph<G> {
    /// Graphs on (`Warmup`) or off.
    pub fn new(on: bool) -> Self {
        if on {
            LaunchGraph::Warmup
        } else {
            LaunchGraph::Off
        }
    }

    /// Whether runs replay a recorded graph.
    pub fn is_recorded(&self) -> bool {
        matches!(self, LaunchGraph::Recorded(_))
    }

    /// Runs `launch`'s launches on `dev`: op by op (off, and the warm-up run), recorded
    /// with [`Device::begin_graph`] and then replayed (the run after the warm-up), or as a
    /// replay of the recording (every later run). A failed recording is ended before its
    /// error returns, and leaves graphs off.
    pub fn run<D, E>(&mut self, dev: &D, launch: impl FnOnce() -> Result<(), E>) -> Result<(), E>
    where
        D: Device<Graph = G>,
        E: From<crate::Error>,
    {
        match std::mem::replace(self, LaunchGraph::Off) {
            LaunchGraph::Off => launch(),
            LaunchGraph::Warmup => {
                launch()?;
                *self = LaunchGraph::Ready;
                Ok(())
            }
            LaunchGraph::Ready => {
                dev.begin_graph()?;
                let launched = launch();
                let graph = dev.end_graph();
                launched?;
                let graph = graph?;
                dev.replay(&graph)?;
                *self = LaunchGraph::Recorded(graph);
                Ok(())
            }
            LaunchGraph::Recorded(graph) => {
                dev.replay(&graph)?;
                *self = LaunchGraph::Recorded(graph);
                Ok(())
            }
        }
    }
}
