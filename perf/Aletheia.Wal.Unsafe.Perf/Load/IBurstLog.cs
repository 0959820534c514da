namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// A log under a burst: producers append without waiting for the disk, then one call makes everything appended durable.
/// <see cref="Append"/> must be safe to call from several threads at once.
/// </summary>
public interface IBurstLog : IDisposable
{
    /// <summary>Short name printed in the result table.</summary>
    string Name { get; }

    /// <summary>Appends <paramref name="payload"/>; returns once the log holds it (in memory), not once it is durable.</summary>
    void Append(ReadOnlySpan<byte> payload);

    /// <summary>Returns once every record appended before the call is durable.</summary>
    void Flush();

    /// <summary>
    /// Checks, after <see cref="Flush"/>, that the log holds exactly <paramref name="records"/> records of
    /// <paramref name="payloadBytes"/> bytes; returns what it checked (one line) or throws <see cref="InvalidDataException"/>.
    /// May close the log to reopen it.
    /// </summary>
    string Verify(long records, int payloadBytes);
}
