/* main.c - capture-server command line (being written in this session). */
#include <stdio.h>

int main(void)
{
	fputs("capture-server: not built yet\n", stderr);
	return 1;
}
