/* adapool C API: adaptive average and max pooling exactly as PyTorch computes them.
 *
 * Every function returns a status code and never lets a C++ exception escape.
 * After a failure, adapool_last_error() gives a message (per thread) that names
 * the bad value and what was expected. Sizes and strides are in elements.
 */
#ifndef ADAPOOL_H
#define ADAPOOL_H

#include <stdint.h>

#define ADAPOOL_VERSION_MAJOR 0
#define ADAPOOL_VERSION_MINOR 1
#define ADAPOOL_VERSION_PATCH 0
#define ADAPOOL_VERSION_STRING "0.1.0"

/* The largest tensor rank: (N, C, D, H, W). */
#define ADAPOOL_MAX_RANK 5

/* An output_size entry meaning "keep this input size" (PyTorch's None). */
#define ADAPOOL_KEEP INT64_MIN

#ifdef __cplusplus
extern "C" {
#endif

typedef enum adapool_dtype {
  ADAPOOL_F32 = 0,
  ADAPOOL_F64 = 1,
  ADAPOOL_F16 = 2,
  ADAPOOL_BF16 = 3,
  /* Not dtypes: they make every int a valid value of the type, so garbage
   * from a caller is rejected with ADAPOOL_ERROR_DTYPE, not undefined. */
  ADAPOOL_DTYPE_RANGE_MIN_ = -2147483647 - 1,
  ADAPOOL_DTYPE_RANGE_MAX_ = 2147483647
} adapool_dtype;

typedef enum adapool_status {
  ADAPOOL_OK = 0,
  ADAPOOL_ERROR_RANK = 1,              /* wrong rank or number of pooled dimensions */
  ADAPOOL_ERROR_EMPTY_DIMENSION = 2,   /* a non-batch input dimension of size 0 */
  ADAPOOL_ERROR_OUTPUT_SIZE = 3,       /* output_size of the wrong length or negative */
  ADAPOOL_ERROR_DTYPE = 4,             /* not one of adapool_dtype */
  ADAPOOL_ERROR_SHAPE_MISMATCH = 5,    /* a buffer whose shape does not fit the other */
  ADAPOOL_ERROR_OVERLAP = 6,           /* output overlaps the input, or itself */
  ADAPOOL_ERROR_OVERFLOW = 7,          /* sizes whose arithmetic overflows int64 */
  ADAPOOL_ERROR_NULL_POINTER = 8,      /* a null pointer where data is needed */
  ADAPOOL_ERROR_MISALIGNED = 9,        /* data not aligned to its element size */
  ADAPOOL_ERROR_THREADS = 10,          /* a negative thread count */
  ADAPOOL_ERROR_INVALID_ARGUMENT = 11, /* anything else malformed (sizes < 0, ...) */
  ADAPOOL_ERROR_OUT_OF_MEMORY = 12,
  ADAPOOL_ERROR_INTERNAL = 13
} adapool_status;

typedef struct adapool_layout {
  int rank;
  int64_t sizes[ADAPOOL_MAX_RANK];
  int64_t strides[ADAPOOL_MAX_RANK];
} adapool_layout;

typedef struct adapool_plan adapool_plan;

const char* adapool_version(void);
const char* adapool_status_name(adapool_status status);
/* The message of this thread's last failure; "" when there was none. */
const char* adapool_last_error(void);

/* Resolves output_size (1 entry for all pooled dimensions, or one per
 * dimension; ADAPOOL_KEEP keeps the input size) into the full output shape.
 * `output_sizes` must hold `rank` entries. */
adapool_status adapool_output_shape(int rank, const int64_t* input_sizes, int spatial_dims,
                                    int output_size_count, const int64_t* output_size,
                                    int64_t* output_sizes);

/* Plans output = adaptive_avg_pool(input); the pooled sizes are the output's.
 * threads: 0 = all hardware threads, otherwise the count to use (clamped to
 * the work available). */
adapool_status adapool_plan_forward(adapool_dtype dtype, int spatial_dims,
                                    const adapool_layout* input, const adapool_layout* output,
                                    int threads, adapool_plan** plan);
/* Plans grad_input = backward(grad_output) of the forward above. */
adapool_status adapool_plan_backward(adapool_dtype dtype, int spatial_dims,
                                     const adapool_layout* grad_output,
                                     const adapool_layout* grad_input, int threads,
                                     adapool_plan** plan);
/* Runs an average pooling plan, or a max pooling forward planned without
 * indices. */
adapool_status adapool_plan_run(const adapool_plan* plan, const void* source, void* destination);
void adapool_plan_destroy(adapool_plan* plan);

/* Plan and run once. */
adapool_status adapool_forward(adapool_dtype dtype, int spatial_dims, const adapool_layout* input,
                               const void* x, const adapool_layout* output, void* y, int threads);
adapool_status adapool_backward(adapool_dtype dtype, int spatial_dims,
                                const adapool_layout* grad_output, const void* dy,
                                const adapool_layout* grad_input, void* dx, int threads);

/* Max pooling: output = adaptive_max_pool(input) (a NaN in a window wins,
 * the last one; otherwise the first maximum), and the int64 indices of the
 * maxima, flat within the input's pooled plane ((d * H + h) * W + w), when
 * `indices` (the output's shape, any strides) is not NULL. */
adapool_status adapool_plan_max_forward(adapool_dtype dtype, int spatial_dims,
                                        const adapool_layout* input, const adapool_layout* output,
                                        const adapool_layout* indices, int threads,
                                        adapool_plan** plan);
/* grad_input of max pooling from grad_output and the forward's indices
 * (grad_output's shape): each gradient added at its index, in output order; an
 * index outside its input plane is ADAPOOL_ERROR_INVALID_ARGUMENT. */
adapool_status adapool_plan_max_backward(adapool_dtype dtype, int spatial_dims,
                                         const adapool_layout* grad_output,
                                         const adapool_layout* indices,
                                         const adapool_layout* grad_input, int threads,
                                         adapool_plan** plan);
/* Runs a max pooling forward planned with indices: writes y and indices. */
adapool_status adapool_plan_run_max_forward(const adapool_plan* plan, const void* x, void* y,
                                            int64_t* indices);
/* Runs a max pooling backward: reads dy and indices, writes dx. */
adapool_status adapool_plan_run_max_backward(const adapool_plan* plan, const void* dy,
                                             const int64_t* indices, void* dx);

/* The windows of one dimension: begins[o], ends[o] for o < out. */
adapool_status adapool_windows(int64_t in, int64_t out, int64_t* begins, int64_t* ends);
/* Whether AvgPool(kernel, stride, padding 0) reproduces the windows exactly:
 * *exists is 1 and kernel/stride are set, or *exists is 0. */
adapool_status adapool_fixed_pool_equivalent(int64_t in, int64_t out, int* exists, int64_t* kernel,
                                             int64_t* stride);

#ifdef __cplusplus
}
#endif

#endif /* ADAPOOL_H */
