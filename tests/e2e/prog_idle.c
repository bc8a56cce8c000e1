/*
 * prog_idle.c - a client program that does nothing until it is killed:
 * a visit that takes the whole visit time without any state change, so a
 * test can kill the capture-client in the middle of it.
 */
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (;;)
		pause();
}
