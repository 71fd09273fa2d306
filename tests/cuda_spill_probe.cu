// A kernel that cannot fit its live values in the registers it is allowed:
// tests/test_cuda_build.sh compiles it with the Makefile's NVCC_FLAGS and
// expects ptxas to refuse it (spills are build errors for kernels/cuda).
__global__ void __launch_bounds__(1024, 2) spill_probe(const unsigned *in, unsigned *out)
{
    unsigned v[96];
#pragma unroll
    for (int i = 0; i < 96; i++)
        v[i] = in[threadIdx.x * 96 + i] * 2654435761u;
    unsigned acc = 0;
#pragma unroll
    for (int r = 0; r < 8; r++)
#pragma unroll
        for (int i = 0; i < 96; i++)
            acc += v[(i * 7 + r) % 96] ^ (acc >> 3);
    out[threadIdx.x] = acc;
}
