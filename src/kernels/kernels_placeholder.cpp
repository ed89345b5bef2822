namespace dsinfer::kernels {}
