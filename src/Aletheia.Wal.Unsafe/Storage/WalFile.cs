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

    /// <summary>
    /// Makes the file <paramref name="length"/> bytes long, the bytes past its end reading as zeros, without writing them
    /// where the file system allows: the preparation of a segment during a burst (see <see cref="SegmentWriter"/>). The
    /// real file system reserves the blocks on Linux (<c>posix_fallocate</c>: unwritten extents, so a full disk fails
    /// here); the default writes real zeros, which reads the same.
    /// </summary>
    public virtual void Extend(long length) => FillZeros(Length, length);

    /// <summary>
    /// Whether some range of the file has no written block (a hole, or an unwritten extent as <see cref="Extend"/> leaves on
    /// the real file system): a prepared segment found at open that was only reserved. False where it cannot be told (the default).
    /// </summary>
    public virtual bool HasHoles => false;

    /// <summary>Makes everything written durable (fsync).</summary>
    public abstract void Sync();

    public abstract void Dispose();
}
