namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// A log driven by many concurrent asynchronous operations: one call appends one record, and its task completes only once
/// that record is durable. <typeparamref name="TResult"/> is whatever the log's own call returns (an LSN, an address), so that
/// the driver awaits the log's own <see cref="ValueTask{TResult}"/> with no adapter allocated per call.
/// Implementations must be safe to call from many threads at once.
/// </summary>
public interface IAsyncDurableLog<TResult> : IDisposable
{
    /// <summary>Short name printed in the result table.</summary>
    string Name { get; }

    /// <summary>Appends <paramref name="payload"/>; completes once it is durable. The caller leaves the buffer alone until then.</summary>
    ValueTask<TResult> AppendDurableAsync(ReadOnlyMemory<byte> payload);
}
