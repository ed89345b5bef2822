namespace dsinfer::jinja {}
