// Placeholder until the engine layer lands (issue "Serving").
namespace dsinfer::engine {}
