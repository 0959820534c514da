namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// A log under load: one call appends one record and returns only once that record is durable.
/// Implementations must be safe to call from many threads at once.
/// </summary>
public interface IDurableLog : IDisposable
{
    /// <summary>Short name printed in the result table.</summary>
    string Name { get; }

    /// <summary>Appends <paramref name="payload"/> and blocks until it is durable on storage.</summary>
    void AppendDurable(ReadOnlySpan<byte> payload);
}
