namespace Aletheia.Wal.Storage;

/// <summary>One open file of the log, through the storage seam (so tests can inject faults).</summary>
internal abstract class WalFile : IDisposable
{
    public abstract string Path { get; }

    public abstract long Length { get; }

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>; for a write-through file it is durable on return.</summary>
    public abstract void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; fewer only at the end of the file.</summary>
    public abstract int Read(Span<byte> destination, long offset);

    /// <summary>
    /// Writes real zeros over [<paramref name="from"/>, <paramref name="to"/>), as <see cref="Write"/> would: the
    /// preparation of a new segment. The real file system does it without the page cache where it can
    /// (<see cref="FileWalStorage"/>); the data and its durability after <see cref="Sync"/> are the same either way.
    /// </summary>
    public virtual void FillZeros(long from, long to) => SegmentWriter.WriteZeros(this, from, to);

    /// <summary>Makes everything written durable (fsync).</summary>
    public abstract void Sync();

    public abstract void Dispose();
}
